"""developer_portal"""
