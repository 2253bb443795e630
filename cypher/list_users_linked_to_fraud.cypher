// Investigator query: users sharing an identifier with a user who made a known fraudulent transaction
// (a file label of 1). Hubs (identifiers with more than $max_users users) are skipped.
// Parameters: $max_users, $limit. Returns: user_id, fraud_user_id, type, entity_id.
MATCH (f:User)-[:MADE]->(:Transaction {is_fraud: 1})
WITH DISTINCT f
MATCH (f)-[:USED]->(e)<-[:USED]-(u:User)
WHERE u <> f AND COUNT { (e)<-[:USED]-(:User) } <= $max_users
RETURN DISTINCT u.id AS user_id, f.id AS fraud_user_id,
       CASE WHEN e:Card THEN 'card' WHEN e:Device THEN 'device' WHEN e:IP THEN 'ip'
            WHEN e:Merchant THEN 'merchant' ELSE e.type END AS type, e.id AS entity_id
LIMIT $limit
