"""Letters and notices as PDFs: what each kind of document says (``content``) and its layout (``pdf``). Making and
storing one is the service ``notifications.services.document_render``."""
