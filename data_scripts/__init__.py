"""Prepare and load the CIFAR-10 and MNIST grading subsets."""
