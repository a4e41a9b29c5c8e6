"""The kernel: plain models of the objects in the two source documents.

It works on memory and locks it is given and never starts a process (that is testbed/).
"""
