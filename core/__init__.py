"""The bottom layer every app may import: roles and permissions, who may see what, the shared HTTP pieces (a public
view marker, the security middleware) and the personal-data mask for logs. It imports no app of this project."""
