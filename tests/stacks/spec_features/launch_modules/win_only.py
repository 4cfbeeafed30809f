"""Runs on Windows only: srcstacks locks this layer here; a Windows host builds it."""

print("hello from win_amd64")
