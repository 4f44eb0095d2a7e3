"""Adapters that ship with Tongyuan: sql, files, sftp, http."""
