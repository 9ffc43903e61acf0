//! The LDAP connector: membership of the subject's entry in the role's groups.
