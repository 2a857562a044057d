"""One trained model: ``hwk4tune train``, loading and evaluating what it wrote, pictures of its filters."""
