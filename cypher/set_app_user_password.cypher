// Replace an account's password hash (a leading ! marks it disabled). Parameters: $name, $password_hash.
// Returns: name (no row when there is no such account).
MATCH (a:AppUser {name: $name})
SET a.password_hash = $password_hash
RETURN a.name AS name
