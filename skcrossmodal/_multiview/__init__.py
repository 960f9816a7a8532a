"""K views in one ``X``: multiview CCA from block sufficient statistics."""
