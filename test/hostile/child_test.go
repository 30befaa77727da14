package hostile

const childEnv = "HOSTILE_CHILD"

func runChild() int { return 0 }
