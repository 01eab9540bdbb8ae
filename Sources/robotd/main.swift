print("robotd")
