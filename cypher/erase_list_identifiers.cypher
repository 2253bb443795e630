// The identifiers one user used (merchants left out), with how many users each links.
// Parameters: $user_id. Returns: type, entity_id, n_users.
MATCH (:User {id: $user_id})-[:USED]->(e)
WHERE NOT e:Merchant
RETURN CASE WHEN e:Card THEN 'card' WHEN e:Device THEN 'device' WHEN e:IP THEN 'ip' ELSE e.type END AS type,
       e.id AS entity_id, COUNT { (e)<-[:USED]-(:User) } AS n_users
