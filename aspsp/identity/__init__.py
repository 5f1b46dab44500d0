"""PSU credentials, SCA factors and login sessions."""
