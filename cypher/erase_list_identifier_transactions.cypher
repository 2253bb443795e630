// Every transaction of the users linked to the given identifiers (the rows whose identifier values are
// pseudonymised). Parameters: $rows (list of {type, id}; type card, device, ip or an extra type).
// Returns: transaction_id, card_id, device_id, ip, extra (JSON text), each transaction once.
UNWIND $rows AS row
CALL (row) {
  MATCH (e:Card {id: row.id}) WHERE row.type = 'card' RETURN e
  UNION
  MATCH (e:Device {id: row.id}) WHERE row.type = 'device' RETURN e
  UNION
  MATCH (e:IP {id: row.id}) WHERE row.type = 'ip' RETURN e
  UNION
  MATCH (e:Entity {type: row.type, id: row.id}) RETURN e
}
MATCH (e)<-[:USED]-(:User)-[:MADE]->(t:Transaction)
WITH DISTINCT t
RETURN t.transaction_id AS transaction_id, t.card_id AS card_id, t.device_id AS device_id, t.ip AS ip,
       t.extra AS extra
