// One investigator account. Parameters: $name. Returns: name, role, password_hash.
MATCH (a:AppUser {name: $name})
RETURN a.name AS name, a.role AS role, a.password_hash AS password_hash
