"""What users send, checked and prepared: conversations, images, video frames."""
