"""Buggy submissions: the reference solution with one bug each.

A mutant replaces one exact snippet of one solution file. `caught_by` lists every check
that must fail on it, and no other check of that file may fail: the grader must take points
for the bug, and only for it. (A file's bug cannot reach another file's checks: the given
code students import across files, such as senet.py's use of ResNet, holds no student code.)
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mutant:
    name: str
    file: str
    find: str
    replace: str
    caught_by: frozenset[str]
    bug: str


def mutant(name: str, file: str, find: str, replace: str, caught_by: set[str], bug: str) -> Mutant:
    return Mutant(name, file, find, replace, frozenset(caught_by), bug)


BLOCK_RETURN = "        return F.relu(out + self.shortcut(x))\n        ### END SOLUTION\n\n\nclass ResNet"
TRANSITION_RETURN = "return F.avg_pool2d(self.conv(F.relu(self.bn(x))), 2)"
TRAIN_MOVE = "        inputs, targets = inputs.to(device), targets.to(device)\n        optimizer"
EVALUATE_MOVE = "            inputs, targets = inputs.to(device), targets.to(device)\n            correct"
SE_RETURN = "        out = self.se(self.bn2(self.conv2(out)))\n        return F.relu(out + self.shortcut(x))"

MUTANTS = [
    # resnet.py
    mutant("relu_before_addition", "resnet.py", BLOCK_RETURN,
           BLOCK_RETURN.replace("F.relu(out + self.shortcut(x))", "F.relu(out) + self.shortcut(x)"),
           {"test_basic_block_identity_shortcut", "test_basic_block_projection_shortcut",
            "test_basic_block_matches_reference", "test_basic_block_computes_the_spec"},
           "ReLU applied to the main path before the addition"),
    mutant("no_shortcut", "resnet.py", BLOCK_RETURN, BLOCK_RETURN.replace("out + self.shortcut(x)", "out"),
           {"test_basic_block_identity_shortcut", "test_basic_block_projection_shortcut",
            "test_basic_block_matches_reference", "test_basic_block_computes_the_spec", "test_basic_block_gradient_flow",
            "test_resnet18_gradient_reaches_the_stem"},
           "the shortcut is never added"),
    mutant("missing_projection", "resnet.py",
           "        if stride != 1 or in_channels != out_channels:\n            self.shortcut = nn.Sequential(",
           "        if False:\n            self.shortcut = nn.Sequential(",
           {"test_basic_block_output_shape", "test_basic_block_parameter_count", "test_basic_block_structure",
            "test_basic_block_projection_shortcut", "test_basic_block_matches_reference", "test_basic_block_computes_the_spec",
            "test_basic_block_gradient_flow", "test_resnet18_gradient_reaches_the_stem", "test_resnet_parameter_counts"},
           "identity shortcut even when stride or width changes"),
    mutant("projection_always", "resnet.py", "        if stride != 1 or in_channels != out_channels:\n            self.shortcut",
           "        if True:\n            self.shortcut",
           {"test_basic_block_parameter_count", "test_basic_block_structure", "test_basic_block_identity_shortcut",
            "test_basic_block_matches_reference", "test_basic_block_computes_the_spec", "test_resnet_parameter_counts",
            "test_resnet18_gradient_reaches_the_stem"},
           "a 1x1 projection where the spec wants the identity"),
    mutant("conv_bias", "resnet.py",
           "self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)",
           "self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=True)",
           {"test_basic_block_matches_reference", "test_basic_block_computes_the_spec", "test_basic_block_parameter_count", "test_basic_block_structure",
            "test_resnet_parameter_counts"},
           "a bias on a convolution followed by batch norm"),
    mutant("stride_on_second_conv", "resnet.py",
           "self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)\n"
           "        self.bn1 = nn.BatchNorm2d(out_channels)\n"
           "        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, stride=1, padding=1, bias=False)",
           "self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=1, padding=1, bias=False)\n"
           "        self.bn1 = nn.BatchNorm2d(out_channels)\n"
           "        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, stride=stride, padding=1, bias=False)",
           {"test_basic_block_structure", "test_basic_block_matches_reference", "test_basic_block_computes_the_spec"},
           "the stride sits on the second 3x3 convolution"),
    mutant("detached_shortcut", "resnet.py", BLOCK_RETURN,
           BLOCK_RETURN.replace("self.shortcut(x)", "self.shortcut(x.detach())"),
           {"test_resnet18_gradient_reaches_the_stem", "test_basic_block_computes_the_spec"},
           "the shortcut's input is detached, so gradients only flow through the main path"),
    mutant("missing_second_bn", "resnet.py", "        out = self.bn2(self.conv2(out))\n        return F.relu(out + self.shortcut(x))",
           "        out = self.conv2(out)\n        return F.relu(out + self.shortcut(x))",
           {"test_basic_block_matches_reference", "test_basic_block_computes_the_spec",
            "test_basic_block_gradient_flow"},
           "the second batch norm is declared but never applied"),
    # densenet.py
    mutant("concatenation_missing_input", "densenet.py", "return torch.cat([x, new_features], dim=1)", "return new_features",
           {"test_dense_layer_output_shape", "test_dense_layer_keeps_its_input",
            "test_dense_layer_matches_reference", "test_dense_layer_computes_the_spec"},
           "the dense layer returns only its new features"),
    mutant("concatenation_reversed", "densenet.py", "return torch.cat([x, new_features], dim=1)",
           "return torch.cat([new_features, x], dim=1)",
           {"test_dense_layer_keeps_its_input", "test_dense_layer_matches_reference",
            "test_dense_layer_computes_the_spec"},
           "new features placed before the input"),
    mutant("dense_missing_relu", "densenet.py", "new_features = self.conv2(F.relu(self.bn2(new_features)))",
           "new_features = self.conv2(self.bn2(new_features))",
           {"test_dense_layer_matches_reference", "test_dense_layer_computes_the_spec"},
           "no ReLU between the second BN and the 3x3 convolution"),
    mutant("dense_conv_bias", "densenet.py", "self.conv2 = nn.Conv2d(inner, growth_rate, 3, padding=1, bias=False)",
           "self.conv2 = nn.Conv2d(inner, growth_rate, 3, padding=1, bias=True)",
           {"test_dense_layer_matches_reference", "test_dense_layer_computes_the_spec",
            "test_dense_layer_parameter_count", "test_densenet_parameter_counts"},
           "a bias on the dense layer's 3x3 convolution"),
    mutant("transition_max_pool", "densenet.py", TRANSITION_RETURN,
           "return F.max_pool2d(self.conv(F.relu(self.bn(x))), 2)",
           {"test_transition_matches_reference", "test_transition_computes_the_spec"},
           "max pooling where the spec averages"),
    mutant("transition_no_pool", "densenet.py", TRANSITION_RETURN,
           "return self.conv(F.relu(self.bn(x)))",
           {"test_transition_output_shape", "test_transition_matches_reference", "test_transition_computes_the_spec"},
           "the transition does not halve the resolution"),
    mutant("dense_new_features_detached", "densenet.py", "new_features = self.conv2(F.relu(self.bn2(new_features)))",
           "new_features = self.conv2(F.relu(self.bn2(new_features))).detach()",
           {"test_dense_layer_gradient_flow", "test_dense_layer_computes_the_spec"},
           "the new features are detached, so the layer's weights never learn"),
    mutant("dense_input_copy_detached", "densenet.py", "return torch.cat([x, new_features], dim=1)",
           "return torch.cat([x.detach(), new_features], dim=1)", {"test_dense_layer_computes_the_spec"},
           "the input's copy in the concatenation is detached: the dense connection carries no gradient"),
    mutant("transition_input_detached", "densenet.py", TRANSITION_RETURN,
           TRANSITION_RETURN.replace("F.relu(self.bn(x))", "F.relu(self.bn(x)).detach()"),
           {"test_transition_computes_the_spec"}, "the transition's convolution is cut from its input"),
    mutant("transition_conv_bias", "densenet.py", "self.conv = nn.Conv2d(in_channels, out_channels, 1, bias=False)",
           "self.conv = nn.Conv2d(in_channels, out_channels, 1, bias=True)",
           {"test_transition_parameter_count", "test_transition_matches_reference",
            "test_transition_computes_the_spec", "test_densenet_parameter_counts"},
           "a bias on the transition's convolution"),
    # mobilenet.py
    mutant("groups_forgotten", "mobilenet.py", "in_channels, in_channels, 3, stride=stride, padding=1, groups=in_channels, bias=False",
           "in_channels, in_channels, 3, stride=stride, padding=1, bias=False",
           {"test_depthwise_separable_parameter_count", "test_depthwise_conv_is_per_channel",
            "test_depthwise_separable_matches_reference", "test_depthwise_separable_computes_the_spec", "test_mobilenet_parameter_counts"},
           "the 3x3 convolution is not depthwise (groups forgotten)"),
    mutant("stride_on_pointwise", "mobilenet.py",
           "in_channels, in_channels, 3, stride=stride, padding=1, groups=in_channels, bias=False",
           "in_channels, in_channels, 3, stride=1, padding=1, groups=in_channels, bias=False",
           {"test_depthwise_separable_output_shape", "test_depthwise_conv_is_per_channel",
            "test_depthwise_separable_matches_reference", "test_depthwise_separable_computes_the_spec"},
           "the stride is ignored"),
    mutant("pointwise_missing_relu", "mobilenet.py", "return F.relu(self.bn2(self.pointwise(x)))",
           "return self.bn2(self.pointwise(x))",
           {"test_depthwise_separable_matches_reference", "test_depthwise_separable_computes_the_spec"},
           "no ReLU after the pointwise convolution's BN"),
    mutant("depthwise_detached", "mobilenet.py", "x = F.relu(self.bn1(self.depthwise(x)))",
           "x = F.relu(self.bn1(self.depthwise(x))).detach()",
           {"test_depthwise_separable_gradient_flow", "test_depthwise_separable_computes_the_spec"},
           "the depthwise half is detached from the graph"),
    # senet.py
    mutant("se_no_sigmoid", "senet.py", "s = torch.sigmoid(self.fc2(F.relu(self.fc1(s))))", "s = self.fc2(F.relu(self.fc1(s)))",
           {"test_se_block_zero_excitation_halves_the_input", "test_se_block_scale_is_per_channel",
            "test_se_block_matches_reference", "test_se_block_computes_the_spec", "test_se_basic_block_matches_reference", "test_se_basic_block_computes_the_spec"},
           "no sigmoid on the excitation"),
    mutant("se_gate_half", "senet.py", "s = torch.sigmoid(self.fc2(F.relu(self.fc1(s))))",
           "s = torch.sigmoid(self.fc2(F.relu(self.fc1(s))) * 0.0)",
           {"test_se_block_matches_reference", "test_se_block_computes_the_spec", "test_se_basic_block_matches_reference",
            "test_se_basic_block_computes_the_spec", "test_se_basic_block_gradient_flow"},
           "the excitation's gate is fixed at 0.5: SE rescales nothing"),
    mutant("se_max_squeeze", "senet.py", "s = x.mean(dim=(2, 3))", "s = x.amax(dim=(2, 3))",
           {"test_se_block_matches_reference", "test_se_block_computes_the_spec",
            "test_se_basic_block_matches_reference", "test_se_basic_block_computes_the_spec"},
           "squeeze by max pooling instead of averaging"),
    mutant("se_no_bias", "senet.py", "self.fc1 = nn.Linear(channels, hidden)", "self.fc1 = nn.Linear(channels, hidden, bias=False)",
           {"test_se_block_parameter_count", "test_se_block_matches_reference", "test_se_block_computes_the_spec", "test_se_basic_block_parameter_count",
            "test_se_basic_block_matches_reference", "test_se_basic_block_computes_the_spec", "test_se_resnet18_parameter_counts"},
           "the first excitation linear has no bias"),
    mutant("se_hidden_without_floor", "senet.py", "hidden = max(1, channels // reduction)", "hidden = channels // reduction",
           {"test_se_block_parameter_count"},
           "hidden size 0 when channels < reduction"),
    mutant("se_after_addition", "senet.py", SE_RETURN,
           "        out = self.bn2(self.conv2(out))\n        return F.relu(self.se(out + self.shortcut(x)))",
           {"test_se_basic_block_matches_reference", "test_se_basic_block_computes_the_spec"},
           "SE applied after the shortcut is added"),
    mutant("se_scale_per_position", "senet.py", "        s = x.mean(dim=(2, 3))\n        s = torch.sigmoid(self.fc2(F.relu(self.fc1(s))))\n        return x * s[:, :, None, None]",
           "        s = torch.sigmoid(self.fc2(F.relu(self.fc1(x.permute(0, 2, 3, 1)))))\n        return x * s.permute(0, 3, 1, 2)",
           {"test_se_block_scale_is_per_channel", "test_se_block_matches_reference",
            "test_se_block_computes_the_spec", "test_se_basic_block_matches_reference",
            "test_se_basic_block_computes_the_spec"},
           "no squeeze: a separate scale at every position"),
    mutant("se_returns_scale_only", "senet.py", "return x * s[:, :, None, None]", "return s[:, :, None, None]",
           {"test_se_block_output_shape", "test_se_block_zero_excitation_halves_the_input",
            "test_se_block_scale_is_per_channel", "test_se_block_matches_reference", "test_se_block_computes_the_spec",
            "test_se_basic_block_matches_reference", "test_se_basic_block_computes_the_spec"},
           "SEBlock returns the channel scales instead of the rescaled input"),
    mutant("se_shortcut_ignores_stride", "senet.py", "                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),",
           "                nn.Conv2d(in_channels, out_channels, 1, stride=1, bias=False),",
           {"test_se_basic_block_output_shape", "test_se_basic_block_matches_reference", "test_se_basic_block_computes_the_spec",
            "test_se_basic_block_gradient_flow"},
           "the projection shortcut of SEBasicBlock ignores the stride"),
    mutant("se_main_path_detached", "senet.py", "out = self.se(self.bn2(self.conv2(out)))",
           "out = self.se(self.bn2(self.conv2(out)).detach())",
           {"test_se_basic_block_gradient_flow", "test_se_basic_block_computes_the_spec"},
           "SEBasicBlock's main path is detached before the SE block"),
    mutant("se_gate_detached", "senet.py", "s = torch.sigmoid(self.fc2(F.relu(self.fc1(s))))",
           "s = torch.sigmoid(self.fc2(F.relu(self.fc1(s)))).detach()",
           {"test_se_block_computes_the_spec", "test_se_basic_block_computes_the_spec",
            "test_se_basic_block_gradient_flow"},
           "a stop-gradient on the excitation: SE's linears never learn"),
    mutant("se_squeeze_detached", "senet.py", "s = x.mean(dim=(2, 3))", "s = x.detach().mean(dim=(2, 3))",
           {"test_se_block_computes_the_spec", "test_se_basic_block_computes_the_spec"},
           "the squeeze is cut from autograd: no gradient reaches the input through the excitation"),
    mutant("se_shortcut_detached", "senet.py", "        return F.relu(out + self.shortcut(x))\n        ### END",
           "        return F.relu(out + self.shortcut(x.detach()))\n        ### END", {"test_se_basic_block_computes_the_spec"},
           "SEBasicBlock's shortcut is detached"),
    # train.py
    mutant("no_zero_grad", "train.py", "        optimizer.zero_grad(set_to_none=True)\n", "",
           {"test_train_one_epoch_clears_gradients", "test_train_one_epoch_matches_reference"},
           "gradients are never cleared"),
    mutant("loss_scaled_down", "train.py", "        loss.backward()\n", "        (loss * 0.1).backward()\n",
           {"test_train_one_epoch_matches_reference"},
           "the loss is scaled by 0.1 before backward: the loop trains at a tenth of the learning rate"),
    mutant("zero_grad_after_backward", "train.py",
           "        optimizer.zero_grad(set_to_none=True)\n        loss = criterion(model(inputs), targets)\n        loss.backward()\n",
           "        loss = criterion(model(inputs), targets)\n        loss.backward()\n        optimizer.zero_grad()\n",
           {"test_train_one_epoch_clears_gradients", "test_train_one_epoch_matches_reference"},
           "gradients cleared between backward and step"),
    mutant("no_train_mode", "train.py", "    model.train()\n", "",
           {"test_train_one_epoch_uses_train_mode", "test_train_one_epoch_matches_reference"},
           "model.train() never called"),
    mutant("scheduler_per_epoch", "train.py",
           "        if scheduler is not None:\n            scheduler.step()\n",
           "", {"test_train_one_epoch_steps_scheduler_per_batch", "test_train_one_epoch_matches_reference"},
           "the scheduler is never stepped inside the loop"),
    mutant("unweighted_mean_loss", "train.py", "loss_sum += loss.detach() * len(targets)\n        samples += len(targets)",
           "loss_sum += loss.detach()\n        samples += 1",
           {"test_train_one_epoch_returns_weighted_mean_loss"},
           "the mean of batch means, ignoring the ragged last batch"),
    mutant("loss_as_tensor", "train.py", "    return loss_sum.item() / samples", "    return loss_sum / samples",
           {"test_train_one_epoch_returns_weighted_mean_loss"},
           "returns a tensor instead of a Python float"),
    mutant("clipped_gradients", "train.py", "        loss.backward()\n        optimizer.step()\n",
           "        loss.backward()\n        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)\n"
           "        optimizer.step()\n",
           {"test_train_one_epoch_clears_gradients", "test_train_one_epoch_matches_reference"},
           "the gradient clipped to norm 1 between backward() and step(), which the spec does not do"),
    mutant("no_eval_mode", "train.py", "    model.eval()\n", "",
           {"test_evaluate_accuracy", "test_evaluate_changes_nothing"},
           "model.eval() never called, so BN updates its statistics"),
    mutant("evaluate_with_gradients", "train.py", "    with torch.no_grad():\n        for inputs, targets in loader:\n            inputs, targets = inputs.to(device), targets.to(device)\n            correct",
           "    if True:\n        for inputs, targets in loader:\n            inputs, targets = inputs.to(device), targets.to(device)\n            correct",
           {"test_evaluate_changes_nothing"},
           "evaluate builds autograd graphs"),
    mutant("accuracy_as_count", "train.py", "    return correct.item() / samples", "    return float(correct.item())",
           {"test_evaluate_accuracy"},
           "evaluate returns the number of correct samples"),
    mutant("batches_never_moved", "train.py",
           "    model.train()\n    loss_sum = torch.zeros((), device=device)\n    samples = 0\n    for inputs, targets in "
           "loader:\n        inputs, targets = inputs.to(device), targets.to(device)\n",
           "    model.train().to(device)\n    loss_sum = torch.zeros((), device=device)\n    samples = 0\n    for inputs, "
           "targets in loader:\n",
           {"test_train_one_epoch_moves_batches_to_device"},
           "train_one_epoch moves the model to the device, never the batches: it crashes on a GPU"),
    mutant("targets_never_moved", "train.py", TRAIN_MOVE, "        inputs = inputs.to(device)\n        optimizer",
           {"test_train_one_epoch_moves_batches_to_device"}, "train_one_epoch moves the inputs, not the targets"),
    mutant("evaluate_never_moves", "train.py", EVALUATE_MOVE, "            correct",
           {"test_evaluate_runs_where_the_model_is"}, "evaluate feeds the model batches left in host memory"),
    mutant("evaluate_targets_left_behind", "train.py", EVALUATE_MOVE, "            inputs = inputs.to(device)\n            correct",
           {"test_evaluate_runs_where_the_model_is"},
           "evaluate compares predictions on the device with targets in host memory"),
    mutant("evaluate_numpy_on_device", "train.py", "            correct += (model(inputs).argmax(dim=1) == targets).sum()\n",
           "            correct += int((model(inputs).argmax(dim=1) == targets).numpy().sum())\n",
           {"test_evaluate_runs_where_the_model_is"}, "evaluate calls .numpy() on a tensor on the GPU"),
    # what only the after-due-date comparison used to see (issue 19), now caught by a visible check
    mutant("basic_block_missing_middle_relu", "resnet.py", "out = F.relu(self.bn1(self.conv1(x)))\n        out = self.bn2",
           "out = self.bn1(self.conv1(x))\n        out = self.bn2",
           {"test_basic_block_computes_the_spec", "test_basic_block_matches_reference"},
           "no ReLU between the two convolutions of the main path"),
    mutant("relu_on_shortcut", "resnet.py", BLOCK_RETURN,
           BLOCK_RETURN.replace("self.shortcut(x)", "F.relu(self.shortcut(x))"),
           {"test_basic_block_computes_the_spec", "test_basic_block_matches_reference"},
           "a ReLU on the shortcut before the addition"),
    mutant("transition_missing_relu", "densenet.py", TRANSITION_RETURN,
           "return F.avg_pool2d(self.conv(self.bn(x)), 2)",
           {"test_transition_computes_the_spec", "test_transition_matches_reference"},
           "no ReLU between the transition's BN and its convolution"),
    mutant("transition_pool_before_relu", "densenet.py", TRANSITION_RETURN,
           "return self.conv(F.relu(F.avg_pool2d(self.bn(x), 2)))",
           {"test_transition_computes_the_spec", "test_transition_matches_reference"},
           "the transition pools before its ReLU"),
    # BN settings that leave a train-mode output (nearly) as it was (issue 36)
    mutant("basic_block_tensorflow_momentum", "resnet.py", "self.bn1 = nn.BatchNorm2d(out_channels)",
           "self.bn1 = nn.BatchNorm2d(out_channels, momentum=0.99)", {"test_basic_block_computes_the_spec"},
           "BN momentum 0.99, TensorFlow's convention, which in PyTorch keeps almost nothing of the old statistics"),
    mutant("dense_layer_eps", "densenet.py", "self.bn2 = nn.BatchNorm2d(inner)",
           "self.bn2 = nn.BatchNorm2d(inner, eps=1e-3)",
           {"test_dense_layer_computes_the_spec", "test_dense_layer_matches_reference"},
           "a BN eps of 1e-3 where the spec has PyTorch's default"),
    mutant("transition_untracked_statistics", "densenet.py", "self.bn = nn.BatchNorm2d(in_channels)",
           "self.bn = nn.BatchNorm2d(in_channels, track_running_stats=False)",
           {"test_transition_computes_the_spec", "test_transition_matches_reference"},
           "the transition's BN keeps no running statistics, so evaluation normalizes by the batch"),
    mutant("se_basic_block_bn_without_affine", "senet.py", "self.bn2 = nn.BatchNorm2d(out_channels)",
           "self.bn2 = nn.BatchNorm2d(out_channels, affine=False)",
           {"test_se_basic_block_computes_the_spec", "test_se_basic_block_parameter_count",
            "test_se_basic_block_matches_reference", "test_se_resnet18_parameter_counts"},
           "a BN without its learnable scale and shift"),
    mutant("depthwise_separable_functional_momentum", "mobilenet.py", "x = F.relu(self.bn1(self.depthwise(x)))",
           "x = F.relu(F.batch_norm(self.depthwise(x), self.bn1.running_mean, self.bn1.running_var, self.bn1.weight, "
           "self.bn1.bias, self.training, 0.3))", {"test_depthwise_separable_computes_the_spec"},
           "a functional batch_norm on the module's buffers with momentum 0.3"),
    mutant("se_sum_squeeze", "senet.py", "s = x.mean(dim=(2, 3))", "s = x.sum(dim=(2, 3))",
           {"test_se_block_computes_the_spec", "test_se_block_matches_reference",
            "test_se_basic_block_computes_the_spec", "test_se_basic_block_matches_reference"},
           "the squeeze sums over H and W instead of averaging"),
    mutant("se_tanh_gate", "senet.py", "s = torch.sigmoid(self.fc2(F.relu(self.fc1(s))))",
           "s = 0.5 * (1 + torch.tanh(self.fc2(F.relu(self.fc1(s)))))",
           {"test_se_block_computes_the_spec", "test_se_block_matches_reference",
            "test_se_basic_block_computes_the_spec", "test_se_basic_block_matches_reference"},
           "a tanh-based gate, (1 + tanh) / 2, where the spec has a sigmoid"),
    mutant("se_after_first_conv", "senet.py", "out = F.relu(self.bn1(self.conv1(x)))\n" + SE_RETURN,
           "out = self.se(F.relu(self.bn1(self.conv1(x))))\n"
           "        out = self.bn2(self.conv2(out))\n        return F.relu(out + self.shortcut(x))",
           {"test_se_basic_block_computes_the_spec", "test_se_basic_block_matches_reference"},
           "SE applied after the first convolution's BN and ReLU instead of the main path's end"),
]

# The activations students put where the spec says ReLU (issue 19): each, in one ReLU of every block
# whose contract has one, caught by that block's visible computes-the-spec check. Leaky ReLU and GELU
# differ from ReLU near zero, so the after-due-date reference comparison sees them too; ReLU6 and
# hardtanh(0, 6) differ only beyond 6, which values after a BN of scale 1 rarely reach: only the
# visible check, whose BN statistics are wide (spec_blocks), sees them.
RELU_SWAPS = {"relu6": ("F.relu6(", ")"), "hardtanh": ("F.hardtanh(", ", 0.0, 6.0)"),
              "leaky_relu": ("F.leaky_relu(", ", 0.1)"), "gelu": ("F.gelu(", ")")}
SEEN_NEAR_ZERO = {"leaky_relu", "gelu"}
RELU_SITES = [  # block, file, the argument of one of its ReLUs (unique in the file)
    ("basic_block", "resnet.py", "self.bn1(self.conv1(x))"),
    ("dense_layer", "densenet.py", "self.bn2(new_features)"),
    ("transition", "densenet.py", "self.bn(x)"),
    ("depthwise_separable", "mobilenet.py", "self.bn2(self.pointwise(x))"),
    ("se_block", "senet.py", "self.fc1(s)"),
    ("se_basic_block", "senet.py", "out + self.shortcut(x)"),
]
for block, file, argument in RELU_SITES:
    blocks = [block, "se_basic_block"] if block == "se_block" else [block]  # SEBasicBlock runs SEBlock
    for swap, (opening, closing) in RELU_SWAPS.items():
        checks = {f"test_{b}_computes_the_spec" for b in blocks}
        if swap in SEEN_NEAR_ZERO:
            checks |= {f"test_{b}_matches_reference" for b in blocks}
        MUTANTS.append(mutant(f"{block}_{swap}", file, f"F.relu({argument})", f"{opening}{argument}{closing}",
                              checks, f"{swap} where the spec of {block} has ReLU"))


@dataclass(frozen=True)
class TrainingMutant:
    """A bug and the training check run on it: `breaks_training` says whether that check must fail.

    Each is trained under the smoke profile in the tests, the cheapest that shows every verdict
    here: a bug that breaks training leaves the network near chance (about 10%), below every
    smoke threshold (`calibrate --table`), and the one that does not break it (relu_before_addition)
    clears them. After a recalibration, `python -m tests.grading --training-mutants
    cpu` shows the same verdicts under the course's profile.

    Bugs that still train well at this size are listed too (breaks_training=False): the
    training checks cannot see them, and the unit checks named in `unit_checks` must. Bugs that
    learn less well than correct code but still learn (a missing or detached shortcut, SE without
    its sigmoid) are weaker learners (WEAK_LEARNERS, breaks_training=None): no verdict is listed,
    `calibrate --power` measures in how many seeds their check hears them, and their unit checks
    hear them always.
    """

    mutant: Mutant
    check: str
    breaks_training: bool | None  # None: a weaker learner (WEAK_LEARNERS), heard in part
    unit_checks: frozenset[str]

    @property
    def key(self) -> str:
        return f"{self.mutant.name}-{self.check.removeprefix('test_train_')}"


def _by_name(name: str) -> Mutant:
    return next(m for m in MUTANTS if m.name == name)


def output_ignores_input(block: str, file: str, line: str) -> Mutant:
    """`block` returns zeros whatever its input: nothing downstream can learn."""
    return mutant(f"{block.lower()}_output_ignores_input", file, line, line.rstrip("\n") + " * 0.0\n", set(),
                  f"{block}'s output is zero whatever its input")


LOOP_NEVER_STEPS = mutant(
    "loop_never_steps", "train.py", "        optimizer.step()\n", "", set(), "the optimizer is never stepped")

TRAINING_MUTANTS = [
    TrainingMutant(output_ignores_input("BasicBlock", "resnet.py", "        return F.relu(out + self.shortcut(x))\n"),
                   "test_train_resnet18_cifar10", True, frozenset()),
    TrainingMutant(output_ignores_input("BasicBlock", "resnet.py", "        return F.relu(out + self.shortcut(x))\n"),
                   "test_train_resnet18_mnist", True, frozenset()),
    TrainingMutant(output_ignores_input("DepthwiseSeparableConv", "mobilenet.py",
                                        "        return F.relu(self.bn2(self.pointwise(x)))\n"),
                   "test_train_mobilenet_cifar10", True, frozenset()),
    TrainingMutant(output_ignores_input("SEBasicBlock", "senet.py",
                                        "        out = self.se(self.bn2(self.conv2(out)))\n        return F.relu(out + self.shortcut(x))\n"),
                   "test_train_se_resnet18_cifar10", True, frozenset()),
    TrainingMutant(LOOP_NEVER_STEPS, "test_train_student_loop_cifar10", True, frozenset()),
    TrainingMutant(LOOP_NEVER_STEPS, "test_train_lenet5_mnist", True, frozenset()),
    TrainingMutant(_by_name("no_zero_grad"), "test_train_student_loop_cifar10", True,
                   _by_name("no_zero_grad").caught_by),
    TrainingMutant(_by_name("concatenation_missing_input"), "test_train_densenet_cifar10", True,
                   _by_name("concatenation_missing_input").caught_by),
    TrainingMutant(_by_name("relu_before_addition"), "test_train_resnet18_cifar10", False,
                   _by_name("relu_before_addition").caught_by),
]

# Weaker learners: bugs that still learn, less well than correct code. Their check hears them in only part of the
# seeds, so no verdict is listed: `calibrate --power` measures the share it hears under each profile (the README's
# power table), and the unit checks named hear every one of them before the due date.
WEAK_LEARNERS = [TrainingMutant(_by_name(name), check, None, _by_name(name).caught_by) for name, check in (
    ("no_shortcut", "test_train_resnet18_cifar10"),
    ("no_shortcut", "test_train_resnet18_mnist"),
    ("detached_shortcut", "test_train_resnet18_cifar10"),
    ("se_gate_half", "test_train_se_resnet18_cifar10"),
    ("se_no_sigmoid", "test_train_se_resnet18_cifar10"),
    ("loss_scaled_down", "test_train_student_loop_cifar10"),
)]
