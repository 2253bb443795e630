// (:User)-[:USED]->(:Card) links folded from one batch: first and last time seen and how often.
// Parameters: $rows (list of {user_id, entity_id, first_seen, last_seen, n}). Returns: nothing.
UNWIND $rows AS row
MATCH (u:User {id: row.user_id})
MATCH (e:Card {id: row.entity_id})
MERGE (u)-[r:USED]->(e)
  ON CREATE SET r.first_seen = row.first_seen, r.last_seen = row.last_seen, r.n = row.n
  ON MATCH SET r.first_seen = CASE WHEN row.first_seen < r.first_seen THEN row.first_seen ELSE r.first_seen END,
               r.last_seen = CASE WHEN row.last_seen > r.last_seen THEN row.last_seen ELSE r.last_seen END,
               r.n = r.n + row.n
