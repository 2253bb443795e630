// How many users one identifier links. Parameters: $type, $entity_id. Returns: n (int).
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
RETURN sum(COUNT { (e)<-[:USED]-(:User) }) AS n
