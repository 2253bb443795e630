// Give identifier nodes their pseudonyms (links and counts stay as they are).
// Parameters: $rows (list of {type, id, pseudonym}; type card, device, ip or an extra type).
// Returns: nothing.
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
SET e.id = row.pseudonym
