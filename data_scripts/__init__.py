"""Prepare and load the CIFAR-10 and MNIST grading subsets, and the whole datasets for training a network to submit."""
