// An API key: its SHA-256 hash only, never the key. Parameters: $id, $name, $scope, $key_hash, $created_at.
// Returns: nothing.
CREATE (:ApiKey {id: $id, name: $name, scope: $scope, key_hash: $key_hash, created_at: $created_at})
