// Newest transactions that carry one identifier, reached through the users linked to it.
// Parameters: $type (card, device, ip, merchant or an extra type), $entity_id, $column (the transaction
// property holding the identifier, or null for an extra type: the caller filters those), $limit.
// Returns: t (properties map).
CALL () {
  MATCH (e:Card {id: $entity_id}) WHERE $type = 'card' RETURN e
  UNION
  MATCH (e:Device {id: $entity_id}) WHERE $type = 'device' RETURN e
  UNION
  MATCH (e:IP {id: $entity_id}) WHERE $type = 'ip' RETURN e
  UNION
  MATCH (e:Merchant {id: $entity_id}) WHERE $type = 'merchant' RETURN e
  UNION
  MATCH (e:Entity {type: $type, id: $entity_id}) RETURN e
}
MATCH (e)<-[:USED]-(:User)-[:MADE]->(t:Transaction)
WHERE $column IS NULL OR t[$column] = $entity_id
RETURN properties(t) AS t
ORDER BY t.ts DESC
LIMIT $limit
