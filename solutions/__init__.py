"""The CNN lab's modules; ASSIGNMENT_SPEC.md says what each must do."""
