"""Evidence manifest, decision record, filled checklist and verification."""
