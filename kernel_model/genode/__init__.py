"""Genode's world (the 2010 report and today's allocator): the stack area, core's RAM and
region maps, the pager, the context-allocator variants."""
