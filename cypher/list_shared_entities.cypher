// Identifiers of one type used by two or more users. Parameters: $type. Returns: entity_id.
MATCH (e)
WHERE (e:Card AND $type = 'card') OR (e:Device AND $type = 'device') OR (e:IP AND $type = 'ip')
   OR (e:Merchant AND $type = 'merchant') OR (e:Entity AND e.type = $type)
WITH e WHERE COUNT { (e)<-[:USED]-(:User) } >= 2
RETURN e.id AS entity_id
