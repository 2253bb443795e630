// A trained model (its bytes as a byte-array property). Parameters: $version, $created_at, $meta (JSON),
// $sha256, $blob (bytes). Returns: nothing.
CREATE (:Model {version: $version, created_at: $created_at, status: 'candidate', meta: $meta, sha256: $sha256,
                blob: $blob})
