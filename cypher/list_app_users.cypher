// Investigator accounts by name. Parameters: none. Returns: name, role.
MATCH (a:AppUser)
RETURN a.name AS name, a.role AS role
ORDER BY a.name
