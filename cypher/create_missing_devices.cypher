// Device nodes not stored yet, created once each (nodes before relationships); the caller holds the store's
// write lock (lock_sequence), so no other writer creates them in between; the uniqueness constraint backs
// the lookup. Parameters: $ids (distinct ids). Returns: id, for each node created here.
UNWIND $ids AS id
OPTIONAL MATCH (n:Device {id: id})
WITH id, n WHERE n IS NULL
CREATE (:Device {id: id})
RETURN id
