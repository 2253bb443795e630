// Take the store's write lock (the sequence counter node) for the rest of the transaction and read the
// sequence's current end. Writers are serialised by it, as BEGIN IMMEDIATE serialises the embedded store.
// Parameters: none. Returns: value (int), the last sequence number handed out.
MERGE (m:Meta {key: 'seq'})
  ON CREATE SET m.value = 0
SET m.locked = true
RETURN m.value AS value
