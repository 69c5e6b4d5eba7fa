"""stfpm"""
