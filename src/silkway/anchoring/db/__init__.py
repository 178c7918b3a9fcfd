"""SQL storage of anchors."""
