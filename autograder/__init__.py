"""The CNN lab's autograder: pytest checks that grade one implementation folder."""
