"""Thin front ends (cli/): parse, call one service, render."""
