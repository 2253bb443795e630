// The users linked to $min_links identifiers of type $type or more (ring detection: accounts that used enough
// cards to cycle them through a merchant). Parameters: $type, $min_links. Returns: user_id.
MATCH (u:User)
WITH u, CASE $type
  WHEN 'card' THEN COUNT { (u)-[:USED]->(:Card) }
  WHEN 'device' THEN COUNT { (u)-[:USED]->(:Device) }
  WHEN 'ip' THEN COUNT { (u)-[:USED]->(:IP) }
  WHEN 'merchant' THEN COUNT { (u)-[:USED]->(:Merchant) }
  ELSE COUNT { (u)-[:USED]->(e:Entity) WHERE e.type = $type } END AS k
WHERE k >= $min_links
RETURN u.id AS user_id
