// Newest transactions of one user. Parameters: $user_id, $limit. Returns: t (properties map).
MATCH (:User {id: $user_id})-[:MADE]->(t:Transaction)
RETURN properties(t) AS t
ORDER BY t.ts DESC
LIMIT $limit
