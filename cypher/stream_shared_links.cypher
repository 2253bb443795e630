// Links of identifiers of the given types shared by $min_users to $max_users users (ring detection):
// single-user identifiers and hubs never leave the server.
// Parameters: $types (list of type names), $min_users, $max_users.
// Returns: type, entity_id, user_id, first_seen, last_seen, n, n_users.
MATCH (e)
WHERE (e:Card AND 'card' IN $types) OR (e:Device AND 'device' IN $types) OR (e:IP AND 'ip' IN $types)
   OR (e:Merchant AND 'merchant' IN $types) OR (e:Entity AND e.type IN $types)
WITH e, COUNT { (e)<-[:USED]-(:User) } AS k
WHERE k >= $min_users AND k <= $max_users
MATCH (e)<-[r:USED]-(u:User)
RETURN CASE WHEN e:Card THEN 'card' WHEN e:Device THEN 'device' WHEN e:IP THEN 'ip'
            WHEN e:Merchant THEN 'merchant' ELSE e.type END AS type,
       e.id AS entity_id, u.id AS user_id, r.first_seen AS first_seen, r.last_seen AS last_seen, r.n AS n,
       k AS n_users
