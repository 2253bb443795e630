// An investigator account (a password hash only). Parameters: $name, $role, $password_hash, $created_at.
// Returns: nothing; the uniqueness constraint refuses a second account of the same name.
CREATE (:AppUser {name: $name, role: $role, password_hash: $password_hash, created_at: $created_at})
