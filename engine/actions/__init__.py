"""Actions: what a policy asks to be done with a message beyond its disposition (docs/policy-language.md, "Actions")."""
