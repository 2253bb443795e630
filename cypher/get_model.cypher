// One model with its bytes. Parameters: $version. Returns: meta, sha256, blob.
MATCH (m:Model {version: $version})
RETURN m.meta AS meta, m.sha256 AS sha256, m.blob AS blob
