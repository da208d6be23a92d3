"""Actions: what a policy asks to be done with a message beyond its disposition (SPEC 3.9)."""
