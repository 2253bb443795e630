// Users meeting at one identifier, one merchant and one time bucket, in groups of 2 to $max_users.
// Parameters: $type (card, device or ip), $column (card_id, device_id or ip), $entity_ids (list),
// $bucket_ms, $max_users. Returns: entity_id, merchant_id, bucket, user_id, first_ts.
UNWIND $entity_ids AS eid
CALL (eid) {
  MATCH (e:Card {id: eid}) WHERE $type = 'card' RETURN e
  UNION
  MATCH (e:Device {id: eid}) WHERE $type = 'device' RETURN e
  UNION
  MATCH (e:IP {id: eid}) WHERE $type = 'ip' RETURN e
}
MATCH (e)<-[:USED]-(u:User)-[:MADE]->(t:Transaction)
WHERE t[$column] = eid AND t.merchant_id IS NOT NULL
WITH eid, t.merchant_id AS merchant_id, t.ts / $bucket_ms AS bucket, u.id AS user_id, min(t.ts) AS first_ts
WITH eid, merchant_id, bucket, collect([user_id, first_ts]) AS users
WHERE size(users) >= 2 AND size(users) <= $max_users
UNWIND users AS x
RETURN eid AS entity_id, merchant_id, bucket, x[0] AS user_id, x[1] AS first_ts
