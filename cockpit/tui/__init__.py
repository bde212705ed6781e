"""The Textual application: screens and widgets. No business rules live here."""
