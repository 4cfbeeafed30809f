print("objc app")
