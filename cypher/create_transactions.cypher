// New transactions, grouped by user: one index lookup per user, then (:User)-[:MADE]->(:Transaction).
// Parameters: $groups (list of {user_id, rows: [transaction property maps]}). Returns: nothing.
UNWIND $groups AS g
MATCH (u:User {id: g.user_id})
UNWIND g.rows AS row
CREATE (u)-[:MADE]->(t:Transaction)
SET t = row
