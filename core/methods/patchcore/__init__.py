"""patchcore"""
