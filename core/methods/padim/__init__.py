"""padim"""
