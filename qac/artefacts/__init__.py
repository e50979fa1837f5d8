"""What qac writes and reads back: build and run directories, their files and the guards at their edges."""
