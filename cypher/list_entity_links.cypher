// Users linked to one identifier (its one-hop neighbourhood), most recent first.
// Parameters: $type, $entity_id, $limit. Returns: type, entity_id, user_id, first_seen, last_seen, n.
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
MATCH (e)<-[r:USED]-(u:User)
RETURN $type AS type, e.id AS entity_id, u.id AS user_id, r.first_seen AS first_seen, r.last_seen AS last_seen,
       r.n AS n
ORDER BY r.last_seen DESC
LIMIT $limit
