"""The crew's agents: tools over every crew capability, agent roles, proposals, evaluation."""
