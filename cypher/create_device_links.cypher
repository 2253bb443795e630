// (:User)-[:USED]->(:Device) links that cannot exist yet (the user or the device was created in this batch),
// folded from one batch: first and last time seen and how often. CREATE, no MERGE needed.
// Parameters: $rows (list of {user_id, entity_id, first_seen, last_seen, n}). Returns: nothing.
UNWIND $rows AS row
MATCH (u:User {id: row.user_id})
MATCH (e:Device {id: row.entity_id})
CREATE (u)-[:USED {first_seen: row.first_seen, last_seen: row.last_seen, n: row.n}]->(e)
